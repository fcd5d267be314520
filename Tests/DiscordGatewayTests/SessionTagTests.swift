import DiscordGateway
import Testing

/// Redis keeps session tags across processes and releases: the hash must never change.
struct SessionTagTests {
    @Test func aTagIsFNV1aOfTheSessionID() {
        // FNV-1a, 64 bits, as any implementation computes it.
        #expect(SessionTag.of("c0ffee-session") == 9_418_637_771_866_774_161)
        #expect(SessionTag.of("") == 14_695_981_039_346_656_037)
        #expect(SessionTag.of("a") != SessionTag.of("b"))
    }
}
