/// Converts between `YYYY-MM-DD` strings and day numbers (days since 1970-01-01, proleptic
/// Gregorian). Kept separate from Foundation's `Calendar` because the CSV reader calls it for
/// every row and must not depend on time zones or locale.
enum SmartCalendar {
    static let minYear = 1900
    static let maxYear = 9999

    static func isLeap(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Leap years in 1...year (year >= 0), so differences count leap days between two years.
    private static func leapYears(through year: Int) -> Int {
        year / 4 - year / 100 + year / 400
    }

    /// Day number of January 1st of `year`.
    static func firstDay(ofYear year: Int) -> Int {
        365 * (year - 1970) + leapYears(through: year - 1) - leapYears(through: 1969)
    }

    /// Day number for a valid calendar date; nil when the date does not exist.
    static func day(year: Int, month: Int, day: Int) -> Int? {
        guard (minYear...maxYear).contains(year), (1...12).contains(month),
              day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        var total = firstDay(ofYear: year)
        for m in 1..<month { total += daysIn(month: m, year: year) }
        return total + day - 1
    }

    /// `YYYY-MM-DD` for a day number.
    static func string(forDay dayNumber: Int) -> String {
        // 365.2425 days per year gives an estimate that is off by at most one year either way.
        var year = 1970 + Int((Double(dayNumber) / 365.2425).rounded(.down))
        while firstDay(ofYear: year) > dayNumber { year -= 1 }
        while firstDay(ofYear: year + 1) <= dayNumber { year += 1 }
        var rest = dayNumber - firstDay(ofYear: year)
        var month = 1
        while rest >= daysIn(month: month, year: year) {
            rest -= daysIn(month: month, year: year)
            month += 1
        }
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(rest + 1, 2)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
