/// Lets one writer at a time through, in arrival order, without blocking a thread.
///
/// SQLite allows one writer per database file; funnelling this process's writers through the gate
/// means they queue here instead of polling SQLite's busy handler.
actor WriteGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func enter() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func leave() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
