// The VS Code extension host entry. The inspection panel and commands arrive with issue 5.
export function activate(): void {}
export function deactivate(): void {}
