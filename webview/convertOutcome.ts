// How the last conversion of this model ended, kept in the panel after the toast hides (issue 14 item 7): a warning
// lists its reasons (an export that wrote no layer says why here, not only in manifest.json).
import { button } from './components';
import { el, replace } from './dom';

export class ConvertOutcomeNote {
  readonly element = el('div', { class: 'convert-outcome', id: 'convert-outcome', role: 'status', hidden: true });

  show(level: 'info' | 'warning', message: string, details: string[]): void {
    this.element.classList.toggle('warning', level === 'warning');
    replace(
      this.element,
      el('p', { class: 'convert-outcome-text' }, `${level === 'warning' ? '⚠ ' : ''}Conversion: ${message}.`),
      details.length > 0 && el('ul', { class: 'convert-outcome-details' }, ...details.map((d) => el('li', {}, d))),
      button('Dismiss', () => this.hide(), { secondary: true, id: 'dismiss-outcome' }),
    );
    this.element.hidden = false;
  }

  hide(): void {
    this.element.hidden = true;
    replace(this.element);
  }
}
