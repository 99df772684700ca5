// Proto comments as OpenAPI text. The sources wrap comments at 100 columns; Markdown reflows
// lines anyway, so each paragraph becomes one line and blank lines stay paragraph breaks.
import type { AnyDesc, DescFile } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";

/** The leading comment of an element as Markdown paragraphs; "" when it has none. */
export function commentOf(desc: Exclude<AnyDesc, DescFile>): string {
  return (getComments(desc).leading ?? "")
    .split(/\n\s*\n/)
    .map((paragraph) =>
      paragraph
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "")
        .join(" "),
    )
    .filter((paragraph) => paragraph !== "")
    .join("\n\n");
}

/** The first sentence of a comment, for an operation's one-line summary. */
export function firstSentence(text: string): string {
  const paragraph = text.split("\n\n")[0] ?? "";
  // A sentence ends at a full stop followed by a capital: "e.g. \"price\"" does not end one.
  const end = paragraph.search(/[.!?](\s+[A-Z]|$)/);
  return end < 0 ? paragraph : paragraph.slice(0, end + 1);
}

/** Non-empty texts as paragraphs of one description; undefined (left out of the JSON) if none. */
export function joinParagraphs(...texts: Array<string | undefined>): string | undefined {
  const paragraphs = texts.filter((text): text is string => text !== undefined && text !== "");
  return paragraphs.length > 0 ? paragraphs.join("\n\n") : undefined;
}
