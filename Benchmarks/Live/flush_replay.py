#!/usr/bin/env python3
"""Records what Kamii sends Redis, and replays it to compare versions of the flush script.

Redis's CPU per million dispatches (`kamii bench-capture --redis`) drifts by ±5 % from run to
run on a shared VM; a change to the flush script worth a few percent drowns in it. Replaying the
same bytes into an emptied Redis gives steadier figures, and under callgrind exact ones.

  record LISTEN_PORT REDIS_PORT OUT
      A TCP proxy: point `bench-capture --redis redis://127.0.0.1:LISTEN_PORT` at it; the bytes
      each client connection sends are kept in OUT.0, OUT.1, … (Ctrl-C to stop).
  replay LOG [--port P] [--rounds N] [--variant FILE]...
      Replays LOG's writes (up to the bench's own baseline) into the Redis on P after FLUSHALL,
      once per variant and round (alternating), and prints Redis's CPU seconds (INFO cpu),
      the top of INFO commandstats and a digest of every key (batch markers and the change
      journal, which name the process, left out). A variant is a Python file defining
      `edit(script) -> script` for the flush script and optionally `transform(command) ->
      command` for its EVALSHA calls; `-` is the script as recorded.
      With --callgrind, P is a redis-server under
      `valgrind --tool=callgrind --toggle-collect=execCommand --callgrind-out-file=DIR/cg.out`
      and the figure is instructions (in billions) instead of CPU seconds.
      With --primed (a log of `bench-capture --redis-primed-by … --passes 1`), the writes before
      the bench's first `INFO` after a flush (the primer's) are replayed before each measurement,
      unmeasured: the figure is the measured capture's, into members Redis already holds.

Nothing beyond Python's standard library; only for benchmarking (the replay FLUSHALLs).
"""
import argparse, glob, hashlib, importlib.util, os, socket, statistics, subprocess, sys, threading

WRITES = {b'EVALSHA', b'EVAL', b'MULTI', b'EXEC', b'HSET', b'HDEL', b'SADD', b'SREM', b'DEL'}


def commands(data):
    """Each command (a list of bytes) of a client's RESP stream."""
    i = 0
    while i < len(data):
        end = data.index(b'\r\n', i)
        count, i = int(data[i + 1:end]), end + 2
        args = []
        for _ in range(count):
            end = data.index(b'\r\n', i)
            size, i = int(data[i + 1:end]), end + 2
            args.append(data[i:i + size])
            i += size + 2
        yield args


def encode(args):
    return b''.join([b'*%d\r\n' % len(args)] + [b'$%d\r\n%s\r\n' % (len(a), a) for a in args])


class Connection:
    """A blocking RESP client: enough for the replay's few hundred replies and the digest."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port))
        self.buffer, self.errors = b'', 0

    def _line(self):
        while b'\r\n' not in self.buffer:
            chunk = self.sock.recv(1 << 20)
            if not chunk: raise ConnectionError('Redis closed the connection')
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b'\r\n', 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b'-': self.errors += 1; return rest
        if kind in (b'+', b':'): return rest
        if kind == b'$':
            size = int(rest)
            if size < 0: return None
            while len(self.buffer) < size + 2: self.buffer += self.sock.recv(1 << 20)
            value, self.buffer = self.buffer[:size], self.buffer[size + 2:]
            return value
        return None if int(rest) < 0 else [self.reply() for _ in range(int(rest))]

    def send(self, *args):
        self.sock.sendall(encode([a if isinstance(a, bytes) else str(a).encode() for a in args]))
        return self.reply()

    def info(self, section):
        return dict(l.split(':', 1) for l in self.send('INFO', section).decode().splitlines() if ':' in l)


def record(listen, target, out):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', listen))
    server.listen(64)

    def pipe(source, sink, log):
        try:
            while chunk := source.recv(1 << 16):
                if log: log.write(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            if log: log.close()
            try: sink.shutdown(socket.SHUT_WR)
            except OSError: pass

    for n in range(1 << 30):
        client, _ = server.accept()
        upstream = socket.create_connection(('127.0.0.1', target))
        threading.Thread(target=pipe, args=(client, upstream, open(f'{out}.{n}', 'wb')), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client, None), daemon=True).start()


def digest(redis):
    h = hashlib.sha1()
    cursor = b'0'
    keys = []
    while True:
        cursor, page = redis.send('SCAN', cursor, 'COUNT', 1000)
        keys += page
        if cursor == b'0': break
    for key in sorted(set(keys)):
        kind = redis.send('TYPE', key)
        if kind == b'hash':
            flat = redis.send('HGETALL', key)
            items = sorted((f, v) for f, v in zip(flat[::2], flat[1::2]) if f != b'~batch' and b'journal' not in key)
        elif kind == b'zset': items = redis.send('ZRANGE', key, 0, -1, 'WITHSCORES')
        elif kind == b'set': items = sorted(redis.send('SMEMBERS', key))
        elif kind == b'string': items = [redis.send('GET', key)]
        else: items = []
        h.update(key + kind + repr(items).encode())
    return h.hexdigest()[:12]


def replay(log, port, rounds, variants, callgrind, primed=False):
    sent = list(commands(open(log, 'rb').read()))
    baseline = next((i for i, c in enumerate(sent) if len(c) > 1 and c[1].startswith(b'kamii-bench-baseline')), len(sent))
    sent = sent[:baseline]
    first_flush = next(i for i, c in enumerate(sent) if c[0].upper() == b'EVALSHA')
    # The passes end where the bench deletes their keys (UNLINK); the baseline's INFO comes after.
    passes_end = next((i for i, c in enumerate(sent) if c[0].upper() == b'UNLINK'), len(sent))
    infos = [i for i, c in enumerate(sent[:passes_end]) if i > first_flush and c[0].upper() == b'INFO']
    # One INFO after the primer and one after the pass, per pass: later passes' primers would be measured.
    if primed and len(infos) != 2: sys.exit('--primed replays a one-pass log: record bench-capture with --passes 1')
    primed_up_to = infos[0] if primed else 0
    scripts = {hashlib.sha1(c[2]).hexdigest().encode(): c[2] for c in sent if c[0].upper() == b'SCRIPT' and c[1].upper() == b'LOAD'}
    flush = next(sha for sha, text in scripts.items() if b'applyGuild' in text)
    primer = [c for c in sent[:primed_up_to] if c[0].upper() in WRITES]
    writes = [c for c in sent[primed_up_to:] if c[0].upper() in WRITES]
    runs = {}
    for name in variants:
        text, transform = scripts[flush].decode(), None
        if name != '-':
            spec = importlib.util.spec_from_file_location('variant', name)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            text, transform = module.edit(text), getattr(module, 'transform', None)
        sha = hashlib.sha1(text.encode()).hexdigest().encode()

        def rewritten(command):
            if command[0].upper() != b'EVALSHA' or command[1].lower() != flush: return command
            command = [command[0], sha] + command[2:]
            return transform(command) if transform else command

        data = b''.join(encode(rewritten(c)) for c in writes)
        runs[name] = (text.encode(), data, [], b''.join(encode(rewritten(c)) for c in primer))
    redis = Connection(port)
    pid = redis.info('server')['process_id']
    for round_ in range(rounds):
        for name in (variants if round_ % 2 == 0 else variants[::-1]):
            text, data, figures, priming = runs[name]
            redis.send('FLUSHALL')
            for script in list(scripts.values()) + [text]: redis.send('SCRIPT', 'LOAD', script)
            if priming:
                primer_connection = Connection(port)
                primer_connection.sock.sendall(priming)
                for _ in primer: primer_connection.reply()
                primer_connection.sock.close()
            redis.send('CONFIG', 'RESETSTAT')
            if callgrind: subprocess.run(['callgrind_control', '-z', pid], capture_output=True)
            before = redis.info('cpu')
            writer = Connection(port)
            writer.sock.sendall(data)
            for _ in writes: writer.reply()
            after = redis.info('cpu')
            if callgrind:
                dumps = set(glob.glob(os.path.join(callgrind, 'cg.out*')))
                subprocess.run(['callgrind_control', '-d', pid], capture_output=True)
                newest = max(set(glob.glob(os.path.join(callgrind, 'cg.out*'))) - dumps, key=os.path.getmtime)
                figure = next(int(l.split()[1]) for l in open(newest) if l.startswith('totals:')) / 1e9
            else:
                figure = sum(float(after[k]) - float(before[k]) for k in ('used_cpu_sys', 'used_cpu_user'))
            stats = redis.info('commandstats')
            top = sorted(((k[8:], v) for k, v in stats.items()), key=lambda kv: -int(kv[1].split('usec=')[1].split(',')[0]))[:4]
            figures.append((figure, writer.errors, top, digest(redis) if round_ == rounds - 1 else None))
            writer.sock.close()
    first = None
    for name in variants:
        figures = runs[name][2]
        median = statistics.median(f[0] for f in figures)
        first = first or median
        unit = 'G instructions' if callgrind else 'CPU-s'
        print(f'{name:24s} {median:.3f} {unit} (×{median / first:.3f}) errors {figures[-1][1]} digest {figures[-1][3]}')
        print(' ' * 25 + ', '.join(f'{k} {v.split(",")[1]}' for k, v in figures[-1][2]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    rec = sub.add_parser('record')
    rec.add_argument('listen', type=int); rec.add_argument('redis', type=int); rec.add_argument('out')
    rep = sub.add_parser('replay')
    rep.add_argument('log'); rep.add_argument('--port', type=int, default=6379)
    rep.add_argument('--rounds', type=int, default=3); rep.add_argument('--variant', action='append')
    rep.add_argument('--callgrind', metavar='DIR')
    rep.add_argument('--primed', action='store_true')
    args = parser.parse_args()
    if args.command == 'record': record(args.listen, args.redis, args.out)
    else: replay(args.log, args.port, args.rounds, args.variant or ['-'], args.callgrind, args.primed)


if __name__ == '__main__':
    sys.exit(main())
