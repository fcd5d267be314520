/// A number standing for a gateway session: a hash of its `session_id`, so every process that
/// resumes the session (after a restart) tags its dispatches alike. 0 means no session is known.
public enum SessionTag {
    /// FNV-1a over the id's UTF-8 bytes; never 0.
    public static func of(_ sessionID: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sessionID.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash == 0 ? 1 : hash
    }
}
