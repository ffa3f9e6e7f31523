import GranaryCore

/// The fields of /proc/PID/stat after the parenthesised command name (which may itself hold spaces
/// and parentheses, hence the last ")"): index 0 is the state, 3 the session, 6 the flags.
enum ProcStat {
    static func fields(of pid: Int32) -> [Substring]? {
        guard pid > 0, let text = try? FileIO.readString("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }
}
