import Foundation

/// Discord's ISO 8601 timestamps, such as `2026-11-30T03:28:57.123000+00:00`, from Unix milliseconds.
enum DiscordTimestamp {
    /// The wall clock in Unix milliseconds, by which Discord judges timeouts and stamps what REST makes.
    static func nowUnixMilliseconds() -> UInt64 { unixMilliseconds(of: Date()) }

    static func unixMilliseconds(of date: Date) -> UInt64 { UInt64(max(0, date.timeIntervalSince1970 * 1_000)) }

    static func iso8601(unixMilliseconds: UInt64) -> String {
        let seconds = Int(unixMilliseconds / 1000)
        let milliseconds = Int(unixMilliseconds % 1000)
        let (year, month, day) = civilDate(daysSinceUnixEpoch: seconds / 86_400)
        let secondOfDay = seconds % 86_400
        return "\(year)-\(pad(month))-\(pad(day))T\(pad(secondOfDay / 3600)):\(pad(secondOfDay / 60 % 60)):\(pad(secondOfDay % 60))"
            + ".\(pad(milliseconds, width: 3))000+00:00"
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    static func civilDate(daysSinceUnixEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = shifted / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ value: Int, width: Int = 2) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
