// Runs inside the extension host (VS Code's extensionTestsPath contract): run() resolves when every check passes.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

export async function run(): Promise<void> {
  const extension = vscode.extensions.getExtension('sparsity-lens.sparsity-lens');
  assert.ok(extension, 'the extension is not installed');
  await extension.activate();
  const commands = await vscode.commands.getCommands(true);
  for (const id of ['sparsityLens.inspectModel', 'sparsityLens.convert', 'sparsityLens.exportReport', 'sparsityLens.selectHardwareProfile']) {
    assert.ok(commands.includes(id), `command ${id} is not registered`);
  }
  // The settings contribute their defaults.
  const config = vscode.workspace.getConfiguration('sparsityLens');
  assert.equal(config.get('defaultPattern'), '2:4');
  assert.equal(config.get('hardwareProfile'), 'a100');
  assert.equal(config.get('deployTarget'), 'none');
  assert.equal(config.get('precision'), 'stored');
  // Opening a model with the custom editor works (the panel itself is tested from the workbench side).
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  assert.ok(folder, 'no workspace folder');
  await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.joinPath(folder, 'sample.onnx'), 'sparsityLens.inspector');
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
  assert.ok(tab?.input instanceof vscode.TabInputCustom && tab.input.viewType === 'sparsityLens.inspector', 'the inspector did not open');
  console.log('host tests passed');
}
