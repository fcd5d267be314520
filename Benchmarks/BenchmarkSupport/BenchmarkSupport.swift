import DiscordSimulator
import Foundation

/// What several benchmark suites measure with, and the corpus they share.
public enum BenchmarkSupport {
    /// 100,000 dispatches across 5,000 guilds with skewed activity, from a fixed seed: the corpus
    /// the inflate and hot-path benchmarks replay.
    public static let corpusPayloads: [[UInt8]] = {
        let world = TrafficWorld(guildCount: 5_000, userCount: 60_000, seed: 0x4B41_4D49)
        var traffic = TrafficGenerator(world: world, seed: 0x5452_4146)
        return traffic.payloads(count: 100_000)
    }()

    /// This process's resident memory, from /proc/self/statm.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// CPU time this process has used, all threads, in seconds.
    public static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
