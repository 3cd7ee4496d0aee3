// "Did you mean": the known word closest to a mistyped one, for the
// messages about an unknown command or option. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace remapfs::cli {

// The optimal-string-alignment (restricted Damerau-Levenshtein) distance:
// the fewest insertions, deletions, substitutions and swaps of two adjacent
// characters that turn `a` into `b`, no substring edited twice. Bytes, not
// characters: a multibyte letter counts as several.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a typo: at
// most a third of `word`'s length and at most 2 edits away (so a word
// shorter than 3 gets no suggestion). Ties go to the earlier candidate;
// `word` itself is never suggested.
std::optional<std::string_view> ClosestMatch(std::string_view word,
                                             const std::vector<std::string_view>& candidates);

}  // namespace remapfs::cli
