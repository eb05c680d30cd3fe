// The error banner: the host's readable message, with Retry when the host says retrying can help.
import { button } from './components';
import { el, replace } from './dom';

export class ErrorBanner {
  readonly element = el('div', { class: 'error-banner', id: 'error-banner', role: 'alert', hidden: true });

  constructor(private readonly onRetry: () => void) {}

  show(message: string, retry: boolean): void {
    replace(
      this.element,
      el('span', { class: 'error-icon', 'aria-hidden': 'true' }, '!'),
      el('p', { class: 'error-message' }, message),
      retry &&
        button(
          'Retry',
          () => {
            this.hide();
            this.onRetry();
          },
          { id: 'retry' },
        ),
      button('Dismiss', () => this.hide(), { secondary: true, id: 'dismiss' }),
    );
    this.element.hidden = false;
  }

  hide(): void {
    this.element.hidden = true;
    replace(this.element);
  }
}
