// How SearchProducts reads a query and ranks a product, whichever engine answers it (the search
// read model, or MariaDB's FULLTEXT index while the read model is being built): the same words,
// the same points, so both give the same order and either can continue the other's page token.

/** An exact name (case and accents aside) is lifted above every partial match. */
export const exactNameScore = 1000;
/** Per query word found in a field; a word in the name outweighs one in tags and description together. */
export const fieldScores = { name: 4, tags: 2, description: 1 } as const;
/**
 * Words of a query that count towards the score; the rest still find matches. Two, because the
 * read model ranks by score levels, one FTS5 query each: with two words a common pair costs
 * ~14 ms of CPU at a million products, with three ~370 ms (8³ combinations of where each word is).
 */
export const maxScoredWords = 2;

// InnoDB's default stopword list (information_schema.INNODB_FT_DEFAULT_STOPWORD): MariaDB's index
// leaves these words out, so they find nothing, and they score nothing either.
const stopwords = new Set(
  "a about an are as at be by com de en for from how i in is it la of on or that the this to und was what when where who will with www".split(
    " ",
  ),
);

/** Lower case without accents: "Café" and "cafe" are the same word. */
export function foldText(text: string): string {
  return text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

/**
 * The words of a text as MariaDB's FULLTEXT parser splits them: runs of letters, digits and "_",
 * from 2 (innodb_ft_min_token_size in deploy/local/infra.ts) to 84 characters, stopwords left out,
 * lower case, each once, in order of first appearance. Accents are kept: MariaDB's REGEXP, which
 * scores them there, does not fold them.
 */
export function searchWords(text: string): string[] {
  const words = (text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []).filter(
    (word) => [...word].length >= 2 && [...word].length <= 84 && !stopwords.has(word),
  );
  return [...new Set(words)];
}

/** What the exact-name lift compares: the name folded, outer blanks trimmed. */
export function nameKey(name: string): string {
  return foldText(name.trim());
}

/** The query's words for the read model (accents folded) split into those that score and the rest. */
export function queryWords(text: string): { scored: string[]; unscored: string[] } {
  const words = searchWords(foldText(text));
  return { scored: words.slice(0, maxScoredWords), unscored: words.slice(maxScoredWords) };
}
