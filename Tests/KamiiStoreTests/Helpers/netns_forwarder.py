"""Forwards TCP connections taken in a network namespace to a server outside it.

    netns_forwarder.py NAMESPACE LISTEN_ADDRESS TARGET_HOST TARGET_PORT

Listens on LISTEN_ADDRESS (an address of the namespace's side of a veth pair), port chosen by the
system and printed on the first line of stdout; each connection is forwarded to TARGET_HOST:
TARGET_PORT from the namespace the script started in. A test sets the namespace's link down to
make the "host" vanish: the client's packets then go nowhere, and nothing closes its connection.
Stdlib only; stops when stdin closes (the test ended, or died).
"""
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def enter(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    for s in (sink, source):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        client, _ = listener.accept()
        try:
            upstream = socket.create_connection(target)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


def main() -> None:
    namespace, address, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    enter(os.open(f"/run/netns/{namespace}", os.O_RDONLY))
    listener = socket.create_server((address, 0))
    enter(home)
    print(listener.getsockname()[1], flush=True)
    threading.Thread(target=serve, args=(listener, (host, port)), daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
