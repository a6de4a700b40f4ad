// Package glob matches keys against Redis glob patterns exactly as Redis
// does, so that a store kept in process (memstore) removes the same keys for
// a given Clear pattern as a Redis server would for SCAN ... MATCH.
//
// The semantics are those of stringmatchlen in Redis's util.c, including its
// quirks, because a pattern that behaved differently in process and on the
// server would make a test against one store lie about the other:
//
//   - * matches any run of bytes, ? matches exactly one byte.
//   - [abc] matches one byte of the set, [^abc] one byte outside it, and
//     [a-z] a byte in the range; a reversed range such as [z-a] is the same
//     range as [a-z].
//   - \x matches x literally, outside and inside brackets. A trailing lone
//     backslash matches a backslash.
//   - An unterminated bracket takes the rest of the pattern as its set, so
//     "a[bc" matches "ab" and "ac". In "[a-]" the closing bracket is the end
//     of a range, so that bracket is unterminated too.
//   - The empty string matches only the empty pattern, not even "*": Redis
//     never reaches its matcher for an empty string and a pattern of "*".
//     Store keys are never empty, so this matters only to direct callers.
//   - Redis gives up (reports no match) once its recursion passes 1000
//     nested *, so a pattern whose 1001st run of * is followed by anything
//     matches nothing. Valid reports such patterns.
//
// Matching works on bytes, never on runes, as Redis does. One deliberate
// difference: ranges compare bytes as unsigned values. Redis compares C
// chars, which are signed on x86-64 and unsigned on arm64, so a range that
// spans 0x7f and 0x80 means different things on different Redis servers;
// the unsigned reading is the one that makes sense and that arm64 servers
// implement.
//
// Everything in this package is a pure function and safe for concurrent use.
package glob
