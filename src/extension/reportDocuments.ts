// Read-only documents for the conversion report ("Show Report", issue 14 item 7): a virtual document is never dirty
// and never asks to be saved, as an Untitled one did.
import * as vscode from 'vscode';

export const REPORT_SCHEME = 'sparsity-lens-report';

export class ReportDocuments implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private next = 1;

  register(): vscode.Disposable {
    return vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.path) ?? 'This report is no longer held (the window was reloaded): convert again to see it.';
  }

  /** Opens `text` as a read-only document named `name` (a number keeps reports of the same model apart). */
  async open(name: string, text: string): Promise<void> {
    const path = `/${this.next++}/${name}`;
    this.texts.set(path, text);
    const document = await vscode.workspace.openTextDocument(vscode.Uri.from({ scheme: REPORT_SCHEME, path }));
    await vscode.window.showTextDocument(document, { preview: true });
  }
}
