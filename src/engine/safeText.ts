// Text from a model (node, tensor and graph names, external locations, the producer) made safe to show: control
// characters and bidi controls become visible escapes, so a name can neither drive a terminal (clear the screen,
// move the cursor, overwrite a line) nor reorder what is read (Trojan Source, CVE-2021-42574); long text is cut, so
// a 100 MB name is not echoed as a 100 MB line. Backslashes stay as they are: Windows paths remain readable.

/** Longest name shown whole: node, tensor, graph and op names. */
export const NAME_MAX = 200;
/** Longest file path shown whole. */
export const PATH_MAX = 1024;
/** Longest free text (a problem, a reason, a warning) shown whole. */
export const TEXT_MAX = 2000;
/** Longest terminal line. */
export const LINE_MAX = 4096;

// C0 (U+0000-U+001F), DEL, C1 (U+0080-U+009F), the line and paragraph separators, bidi embeddings, overrides, isolates.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');
const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One character as a visible escape: ESC as \x1b, U+202E as \u202e, a newline as \n. */
function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return SHORT[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

const cutMarker = (hidden: number) => `…(+${hidden} chars)`;

/**
 * `text` with every unsafe character escaped (except those `keep` allows), cut to at most `max` characters with
 * the number of characters of `text` left out. Only the part that can be shown is looked at (a 100 MB name costs
 * `max` steps), and the result is returned unchanged by a second call: text cut where it was read passes through a
 * report's own cut as it is.
 */
function safe(text: string, max: number, keep?: (c: string) => boolean): string {
  const head = text.length > max ? text.slice(0, max) : text;
  const escaped = head.replace(UNSAFE_ALL, (c) => (keep?.(c) ? c : escapeChar(c)));
  if (text.length === head.length && escaped.length <= max) return escaped;
  let out = '';
  let used = 0;
  for (const c of head) {
    const piece = UNSAFE.test(c) && !keep?.(c) ? escapeChar(c) : c;
    if (out.length + piece.length + cutMarker(text.length - used - c.length).length > max) break;
    out += piece;
    used += c.length;
  }
  return out + cutMarker(text.length - used);
}

/** A name from the model as shown in a report or a message: one line, controls escaped, at most `max` characters. */
export function displayName(name: string, max = NAME_MAX): string {
  return safe(name, max);
}

/** A file path as shown: like a name, with a longer bound. */
export function displayPath(path: string): string {
  return safe(path, PATH_MAX);
}

/** Free text that may hold names (a problem, a reason, a warning): one line, controls escaped, at most `max` characters. */
export function displayText(text: string, max = TEXT_MAX): string {
  return safe(text, max);
}

/** Text for a terminal: controls escaped except newlines and tabs, every line cut to `maxLine` characters. */
export function terminalText(text: string, maxLine = LINE_MAX): string {
  const keep = (c: string) => c === '\t';
  return text
    .split('\n')
    .map((line) => safe(line, maxLine, keep))
    .join('\n');
}

/**
 * JSON text with the characters JSON.stringify leaves raw but a terminal or an editor acts on (DEL, C1 controls,
 * line separators, bidi controls) written as \u escapes: the same JSON value, every string complete. JSON.stringify
 * escapes U+0000-U+001F itself, and these characters can only stand inside its strings.
 */
export function escapeJsonControls(json: string): string {
  return json.replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
