/// A pass over a config's text before toml++ parses it, refusing the inputs on which that parser
/// aborts the process instead of reporting a syntax error.
///
/// Why: toml++ 3.4.0 (bundled by TOMLKit 0.6.0) checks some of its own preconditions with
/// assertions, and SwiftPM builds it without `NDEBUG` even in release, so malformed text reached
/// `abort()` — `granaryd --config` died with "Assertion failed" instead of naming the line. Found by
/// the config fuzzer (ops/fuzz; docs/OPERATIONS.md, "Fuzzing"); upstream knows the header case
/// (marzer/tomlplusplus#294, #301, unreleased). Two constructs reach those assertions:
/// - a table header whose key starts with a character no key starts with (`[`, `[!]`, `[.a]`,
///   `[é]`, `[[[a]]]`): after `[` or `[[` and spaces or tabs the parser asserts a bare-key character
///   or a quote;
/// - an unquoted value its classifier takes for a date or time without checking the shape
///   (`1979-05-27Tx:…`).
/// So headers are checked by the parser's own rule, and an unquoted value must be a number, `true`,
/// `false`, `inf` or `nan`: Granary configs have no dates or times, and any other bare word is a
/// syntax error in TOML anyway (quote strings).
///
/// Guarantees: refuses only text that is invalid TOML or holds a date or time, with a
/// `ConfigError.syntax` naming the line and column. It tracks strings, comments, arrays and inline
/// tables as the parser does, so it finds headers and values where the parser looks for them.
enum TOMLPrecheck {
    static func check(_ text: String, file: String) throws(ConfigError) {
        var s = Array(text.unicodeScalars)
        // The parser skips a byte order mark, so headers right after one count as at a line start.
        if s.first == "\u{FEFF}" { s.removeFirst() }
        var scanner = Scanner(s: s)
        if let (at, reason) = scanner.run() {
            let line = 1 + s[..<at].reduce(0) { $1 == "\n" ? $0 + 1 : $0 }
            let column = at - (s[..<at].lastIndex(of: "\n").map { $0 + 1 } ?? 0) + 1
            throw .syntax(file: file, line: line, column: column, reason: reason)
        }
    }

    private struct Scanner {
        let s: [Unicode.Scalar]
        var i = 0
        /// Open arrays (`[`) and inline tables (`{`) of the value being read.
        var open: [Unicode.Scalar] = []
        /// The next token is a value (after `=`, `[` or `,` in an array).
        var expectValue = false
        /// Only blanks since the last line break outside any value: a `[` here opens a header.
        var lineStart = true

        init(s: [Unicode.Scalar]) { self.s = s }

        /// The first refused place and why, or nil.
        mutating func run() -> (Int, String)? {
            while i < s.count {
                let c = s[i]
                switch c {
                case "\n":
                    if open.isEmpty {
                        expectValue = false
                        lineStart = true
                    }
                    i += 1
                    continue
                case " ", "\t", "\r":
                    i += 1
                    continue
                case "#":
                    while i < s.count, s[i] != "\n" { i += 1 }
                    continue
                case "\"", "'":
                    skipString()
                    expectValue = false
                    lineStart = false
                    continue
                default:
                    break
                }
                if lineStart, open.isEmpty, c == "[" {
                    if let bad = header() { return bad }
                    lineStart = false
                    continue
                }
                lineStart = false
                if expectValue {
                    switch c {
                    case "[":
                        open.append("[")
                        i += 1
                    case "{":
                        open.append("{")
                        expectValue = false
                        i += 1
                    case "]" where open.last == "[":  // `[]`, or a trailing comma
                        open.removeLast()
                        expectValue = false
                        i += 1
                    default:
                        let start = i
                        while i < s.count, !Self.endsValue(s[i]) { i += 1 }
                        let word = String(String.UnicodeScalarView(s[start..<i]))
                        if !Self.isPlainValue(word) {
                            let shown = s[start..<min(i, start + 40)].map { $0.escaped(asASCII: true) }.joined() + (i - start > 40 ? "…" : "")
                            return (start, "unquoted value '\(shown)': "
                                + "only numbers, true, false, inf and nan go unquoted (quote strings; dates and times are not used)")
                        }
                        expectValue = false
                    }
                    continue
                }
                switch c {
                case "=": expectValue = true
                case ",": expectValue = open.last == "["  // in an inline table a key follows
                case "]", "}": if !open.isEmpty { open.removeLast() }
                default: break  // a key's characters
                }
                i += 1
            }
            return nil
        }

        /// A header at `i`, by the parser's rule: after `[` or `[[` and spaces or tabs comes a
        /// bare-key character, a quote, `]`, or the end of the text. Moves to the end of its line.
        mutating func header() -> (Int, String)? {
            i += 1
            let blank = skipBlanks()
            if i < s.count, s[i] == "[", !blank {  // `[ [` is an error the parser reports itself
                i += 1
                _ = skipBlanks()
            }
            if i < s.count {
                let c = s[i]
                if !(c == "]" || c == "[" && blank || c == "\"" || c == "'" || Self.isBareKey(c)) {
                    return (i, "a table header's key must start with A-Z a-z 0-9 _ - or a quote, saw '\(c.escaped(asASCII: true))'")
                }
            }
            // The rest of the header line: quoted keys may hold `]` or `#`.
            while i < s.count, s[i] != "\n" {
                if s[i] == "\"" || s[i] == "'" { skipString() } else if s[i] == "#" { break } else { i += 1 }
            }
            return nil
        }

        mutating func skipBlanks() -> Bool {
            let start = i
            while i < s.count, s[i] == " " || s[i] == "\t" { i += 1 }
            return i != start
        }

        /// Moves past the string starting at `i`: basic (`"`, escapes) or literal (`'`), single-line
        /// (ends at its quote or the line's end) or multi-line (tripled; up to two more quotes
        /// belong to its content).
        mutating func skipString() {
            let q = s[i]
            let triple = i + 2 < s.count && s[i + 1] == q && s[i + 2] == q
            i += triple ? 3 : 1
            while i < s.count {
                let c = s[i]
                if c == "\\", q == "\"" {
                    i += 2
                    continue
                }
                if c == "\n", !triple { return }
                if c == q {
                    if !triple {
                        i += 1
                        return
                    }
                    if i + 2 < s.count, s[i + 1] == q, s[i + 2] == q {
                        i += 3
                        var extra = 0
                        while extra < 2, i < s.count, s[i] == q {
                            i += 1
                            extra += 1
                        }
                        return
                    }
                }
                i += 1
            }
        }

        /// Where the parser's scan of an unquoted value stops.
        static func endsValue(_ c: Unicode.Scalar) -> Bool {
            c == "]" || c == "}" || c == "," || c == "#" || c.properties.isWhitespace
        }

        static func isBareKey(_ c: Unicode.Scalar) -> Bool {
            c == "_" || c == "-" || ("0"..."9").contains(c) || ("a"..."z").contains(c) || ("A"..."Z").contains(c)
        }

        /// A number (decimal, hexadecimal, octal or binary), a boolean, `inf` or `nan`, by shape;
        /// the parser checks the details (underscores, leading zeros, ranges).
        static func isPlainValue(_ word: String) -> Bool {
            if word == "true" || word == "false" { return true }
            var w = Substring(word)
            let signed = w.first == "+" || w.first == "-"
            if signed { w = w.dropFirst() }
            if w == "inf" || w == "nan" { return true }
            for (prefix, digits) in [("0x", "0123456789abcdefABCDEF_"), ("0o", "01234567_"), ("0b", "01_")] where w.hasPrefix(prefix) {
                let rest = w.dropFirst(2)
                return !signed && !rest.isEmpty && rest.allSatisfy { digits.contains($0) }
            }
            // digits [. digits] [e|E [+|-] digits], each run digits and underscores.
            func run(_ w: inout Substring) -> Bool {
                let n = w.prefix { $0.isASCII && ($0.isNumber || $0 == "_") }.count
                w = w.dropFirst(n)
                return n > 0
            }
            guard w.first?.isASCII == true, w.first?.isNumber == true, run(&w) else { return false }
            if w.first == "." {
                w = w.dropFirst()
                guard run(&w) else { return false }
            }
            if w.first == "e" || w.first == "E" {
                w = w.dropFirst()
                if w.first == "+" || w.first == "-" { w = w.dropFirst() }
                guard run(&w) else { return false }
            }
            return w.isEmpty
        }
    }
}
