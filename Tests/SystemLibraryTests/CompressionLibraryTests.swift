import CZlib
import CZstd
import Testing

/// The system libraries the inflaters are built on are the ones Debian 12 ships, or newer.
@Suite struct CompressionLibraryTests {
    @Test func zlibIsAtLeastDebian12s() {
        let version = String(cString: zlibVersion())
        #expect(version.split(separator: ".").map { Int($0) ?? 0 }.lexicographicallyPrecedes([1, 2, 13]) == false, "\(version)")
    }

    @Test func zstdIsAtLeastDebian12s() {
        #expect(ZSTD_versionNumber() >= 10_504)
    }
}
