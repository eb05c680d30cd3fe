// What the CLI writes to stderr, made safe for a terminal: a name or location from a model inside an error or a
// warning cannot send escape sequences (clear the screen, move the cursor, overwrite a line with a fake verdict)
// nor fill the screen with one line.
import { LINE_MAX, terminalText } from '../engine/safeText';

/**
 * `text` with every control character but newline and tab shown as an escape (ESC as \x1b, CR as \r, U+202E as
 * \u202e) and each line cut to `maxLine` characters ("…(+N chars)"). Safe to apply twice. For messages and
 * warnings, not for the progress bar, which writes its own escape sequences.
 */
export function sanitizeTerminal(text: string, maxLine = LINE_MAX): string {
  return terminalText(text, maxLine);
}
