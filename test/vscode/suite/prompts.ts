import * as vscode from 'vscode';

/** A pick list as the extension showed it. */
export interface ShownPick {
  title: string | undefined;
  items: vscode.QuickPickItem[];
}

/** A message as the extension showed it, with the buttons it offered. */
export interface ShownMessage {
  severity: 'information' | 'warning';
  message: string;
  modal: boolean;
  detail: string | undefined;
  buttons: string[];
}

/** An input box as the extension showed it; `check` says what its validation says of a text, as the box would while it is typed. */
export interface ShownInput {
  title: string | undefined;
  placeHolder: string | undefined;
  check: (text: string) => Promise<string | undefined>;
}

type Choose = (pick: ShownPick) => vscode.QuickPickItem | vscode.QuickPickItem[] | undefined;
type Answer = (message: ShownMessage) => string | undefined;
type Type = (input: ShownInput) => Promise<string | undefined> | string | undefined;

/**
 * Answers the pick lists, input boxes and messages of the Lifeboat commands run inside `work`, as a
 * person would, and records what they showed. Quick picks, input boxes and modal dialogs wait for a
 * person in the workbench; here `choose`, `type` and `answer` take that person's place at the
 * `vscode.window` boundary. Every
 * message's text is recorded; non-modal notifications are also shown as usual.
 */
export async function withPrompts<Result>(choose: Choose, answer: Answer, work: () => Thenable<Result>, type: Type = () => undefined): Promise<{ result: Result; picks: ShownPick[]; messages: ShownMessage[]; inputs: ShownInput[] }> {
  const window = vscode.window as { -readonly [Key in keyof typeof vscode.window]: (typeof vscode.window)[Key] };
  const original = { showQuickPick: window.showQuickPick, showInformationMessage: window.showInformationMessage, showWarningMessage: window.showWarningMessage, showInputBox: window.showInputBox };
  const inputs: ShownInput[] = [];
  const picks: ShownPick[] = [];
  const messages: ShownMessage[] = [];

  const showQuickPick = async (items: readonly (string | vscode.QuickPickItem)[] | Thenable<readonly (string | vscode.QuickPickItem)[]>, options?: vscode.QuickPickOptions) => {
    const given = await items;
    const shown = given.map((item) => (typeof item === 'string' ? { label: item } : item));
    const pick = { title: options?.title, items: shown };
    picks.push(pick);
    const chosen = choose(pick);
    // What VS Code resolves to: the caller's own strings or items.
    const asGiven = (item: vscode.QuickPickItem) => given[shown.indexOf(item)];
    if (chosen === undefined) return undefined;
    return Array.isArray(chosen) ? chosen.map(asGiven) : asGiven(chosen);
  };
  const message =
    (severity: ShownMessage['severity'], show: (message: string, ...rest: never[]) => Thenable<unknown>) =>
    (text: string, ...rest: unknown[]): Thenable<unknown> => {
      const options = typeof rest[0] === 'object' && rest[0] !== null && !('title' in rest[0]) ? (rest.shift() as vscode.MessageOptions) : undefined;
      const buttons = rest.map((button) => (typeof button === 'string' ? button : (button as vscode.MessageItem).title));
      const shown = { severity, message: text, modal: options?.modal === true, detail: options?.detail, buttons };
      messages.push(shown);
      if (shown.modal) return Promise.resolve(answer(shown));
      void show(text, ...(rest as never[]));
      return Promise.resolve(answer(shown));
    };

  const showInputBox = async (options?: vscode.InputBoxOptions) => {
    const check = async (text: string) => {
      const said = await options?.validateInput?.(text);
      return said === undefined || said === null ? undefined : typeof said === 'string' ? said : said.message;
    };
    const input = { title: options?.title, placeHolder: options?.placeHolder, check };
    inputs.push(input);
    return type(input);
  };

  window.showQuickPick = showQuickPick as typeof vscode.window.showQuickPick;
  window.showInputBox = showInputBox as typeof vscode.window.showInputBox;
  window.showInformationMessage = message('information', original.showInformationMessage) as typeof vscode.window.showInformationMessage;
  window.showWarningMessage = message('warning', original.showWarningMessage) as typeof vscode.window.showWarningMessage;
  try {
    return { result: await work(), picks, messages, inputs };
  } finally {
    Object.assign(window, original);
  }
}
