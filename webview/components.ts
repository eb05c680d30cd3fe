// The one module that knows the component library. @vscode/webview-ui-toolkit is archived (January 2025); moving to
// @vscode-elements/elements means rewriting only this file: the rest of the panel calls these functions.
import {
  provideVSCodeDesignSystem,
  vsCodeButton,
  vsCodeDropdown,
  vsCodeOption,
  vsCodePanelTab,
  vsCodePanelView,
  vsCodePanels,
  vsCodeTextField,
} from '@vscode/webview-ui-toolkit';
import { append, el } from './dom';

export function registerComponents(): void {
  provideVSCodeDesignSystem().register(
    vsCodeButton(),
    vsCodeDropdown(),
    vsCodeOption(),
    vsCodePanels(),
    vsCodePanelTab(),
    vsCodePanelView(),
    vsCodeTextField(),
  );
}

export function button(label: string, onClick: () => void, options: { secondary?: boolean; ariaLabel?: string; id?: string } = {}): HTMLElement {
  const element = el('vscode-button', { appearance: options.secondary ? 'secondary' : 'primary', 'aria-label': options.ariaLabel, id: options.id }, label);
  element.addEventListener('click', onClick);
  return element;
}

export interface Choice {
  value: string;
  label: string;
}

export interface Dropdown {
  element: HTMLElement;
  get value(): string;
  set value(value: string);
  setChoices(choices: Choice[], value: string): void;
}

/** A labelled dropdown; `onChange` gets the chosen value when the user picks one. */
export function dropdown(label: string, choices: Choice[], value: string, onChange: (value: string) => void, id?: string): Dropdown {
  const select = el('vscode-dropdown', { 'aria-label': label, id }) as HTMLElement & { value: string };
  const setChoices = (list: Choice[], selected: string) => {
    select.replaceChildren(...list.map((c) => el('vscode-option', { value: c.value, selected: c.value === selected }, c.label)));
    select.value = selected;
  };
  setChoices(choices, value);
  select.addEventListener('change', () => onChange(select.value));
  return {
    element: el('label', { class: 'field' }, el('span', { class: 'field-label' }, label), select),
    get value() {
      return select.value;
    },
    set value(v: string) {
      select.value = v;
    },
    setChoices,
  };
}

export interface TextField {
  element: HTMLElement;
  get value(): string;
  set value(value: string);
  /** Marks the field invalid with a message (empty: valid). */
  setProblem(problem: string): void;
}

/** A labelled text field; `onCommit` runs on Enter and when the field loses focus, `onInput` on every keystroke. */
export function textField(
  label: string,
  options: { value?: string; placeholder?: string; size?: number; id?: string; onCommit?: (value: string) => void; onInput?: (value: string) => void },
): TextField {
  const field = el('vscode-text-field', { placeholder: options.placeholder, size: options.size, value: options.value ?? '' }, label) as HTMLElement & { value: string };
  const problem = el('span', { class: 'field-problem', role: 'status' });
  field.addEventListener('input', () => options.onInput?.(field.value));
  field.addEventListener('change', () => options.onCommit?.(field.value));
  field.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') options.onCommit?.(field.value);
  });
  return {
    element: el('span', { class: 'field', id: options.id }, field, problem),
    get value() {
      return field.value;
    },
    set value(v: string) {
      field.value = v;
    },
    setProblem(text: string) {
      problem.textContent = text;
      if (text) field.setAttribute('aria-invalid', 'true');
      else field.removeAttribute('aria-invalid');
    },
  };
}

export interface Tab {
  id: string;
  title: string;
  content: HTMLElement;
}

/** Tabs (arrow keys move between the tab titles). */
export function tabs(label: string, list: Tab[]): HTMLElement {
  const panels = el('vscode-panels', { 'aria-label': label });
  append(panels, ...list.map((t) => el('vscode-panel-tab', { id: `tab-${t.id}` }, t.title)));
  append(panels, ...list.map((t) => el('vscode-panel-view', { id: `view-${t.id}` }, t.content)));
  return panels;
}
