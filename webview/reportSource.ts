// Where the numbers on screen come from, when that is not a scan just made: the report cache (with when it was
// scanned, and Rescan), or a file that changed on disk (the numbers are outdated until the new scan). Issue 14, Scale.
import { button } from './components';
import { el, replace } from './dom';

export class ReportSource {
  readonly element = el('div', { class: 'report-source', id: 'report-source', role: 'status', hidden: true });

  constructor(private readonly onRescan: () => void) {}

  /** The report came from the cache: the file and the scan settings are those of `scannedAt`. */
  showCached(scannedAt: number): void {
    const when = new Date(scannedAt);
    replace(
      this.element,
      el(
        'p',
        { class: 'report-source-text' },
        'From the cache: scanned ',
        el('time', { datetime: when.toISOString() }, when.toLocaleString()),
        '. The file is unchanged since (size, modification time, inode).',
      ),
      button('Rescan', () => this.rescan(), { secondary: true, id: 'rescan' }),
    );
    this.element.hidden = false;
  }

  /** A file the report read changed: the host scans again. */
  showChanged(): void {
    replace(this.element, el('p', { class: 'report-source-text' }, 'The file changed on disk: the numbers below are outdated; scanning it again…'));
    this.element.hidden = false;
  }

  hide(): void {
    this.element.hidden = true;
    replace(this.element);
  }

  private rescan(): void {
    this.hide();
    this.onRescan();
  }
}
