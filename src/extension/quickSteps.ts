// QuickPick and InputBox steps with a step counter ("2/4") and a Back button, as VS Code's multi-step input sample
// does (vscode-extension-samples/quickinput-sample): window.showQuickPick has neither.
import * as vscode from 'vscode';

export const BACK = Symbol('back');
/** The answer, BACK, or undefined when the user dismissed the step (Escape). */
export type StepResult<T> = T | typeof BACK | undefined;

interface StepPlace {
  title: string;
  step: number;
  totalSteps: number;
  /** Whether a Back button is shown (not on the first step). */
  canGoBack: boolean;
}

export interface StepItem<T extends string> {
  label: string;
  value: T;
  description?: string;
}

/** A QuickPick step; `current` is listed first and active, so that Enter keeps the last answer. */
export function pickStep<T extends string>(place: StepPlace, items: StepItem<T>[], current: T): Promise<StepResult<T>> {
  const sorted = [...items].sort((a, b) => (a.value === current ? -1 : b.value === current ? 1 : 0));
  const pick = vscode.window.createQuickPick<vscode.QuickPickItem & { value: T }>();
  Object.assign(pick, { title: place.title, step: place.step, totalSteps: place.totalSteps, placeholder: place.title, ignoreFocusOut: true });
  pick.items = sorted;
  pick.activeItems = sorted.slice(0, 1);
  pick.buttons = place.canGoBack ? [vscode.QuickInputButtons.Back] : [];
  return settle(pick, (done) => [
    pick.onDidAccept(() => done((pick.selectedItems[0] ?? pick.activeItems[0])?.value)),
    pick.onDidTriggerButton(() => done(BACK)),
  ]);
}

/** An InputBox step; Enter is accepted only while `validate` finds no problem. */
export function inputStep(place: StepPlace, options: { value: string; prompt?: string; validate?: (value: string) => string | undefined }): Promise<StepResult<string>> {
  const box = vscode.window.createInputBox();
  Object.assign(box, { title: place.title, step: place.step, totalSteps: place.totalSteps, value: options.value, prompt: options.prompt, ignoreFocusOut: true });
  box.buttons = place.canGoBack ? [vscode.QuickInputButtons.Back] : [];
  const check = () => (box.validationMessage = options.validate?.(box.value));
  check();
  return settle(box, (done) => [
    box.onDidChangeValue(check),
    box.onDidAccept(() => {
      if (!check() && box.value) done(box.value);
    }),
    box.onDidTriggerButton(() => done(BACK)),
  ]);
}

function settle<R>(input: vscode.QuickPick<never> | vscode.InputBox | vscode.QuickInput, listen: (done: (result: R | undefined) => void) => vscode.Disposable[]): Promise<R | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const subscriptions: vscode.Disposable[] = [];
    const done = (result: R | undefined) => {
      if (settled) return;
      settled = true;
      subscriptions.forEach((d) => d.dispose());
      input.dispose();
      resolve(result);
    };
    subscriptions.push(...listen(done), input.onDidHide(() => done(undefined)));
    input.show();
  });
}
