// A caller that keeps an answer to hand it to others (the edge's shared cache of public answers)
// asks for one read from the database, not from a service's own read cache: that cache hears of
// another replica's write through the stream, at the same moment as the edge, and an edge that
// evicted first would otherwise keep the old answer it was just given again.

/** Request metadata: "1" asks for an answer read from the database. */
export const freshReadHeader = "bazaar-fresh-read";
