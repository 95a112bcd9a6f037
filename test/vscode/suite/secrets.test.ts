import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { fixtureUri } from './workspace';

const VALUE = 'sv-41c9e2-kept-in-secret-storage';

suite('secrets', () => {
  test('lifeboat.setSecret keeps a secret that actions resolve from SecretStorage, masked in results and run records', async () => {
    assert.equal(await vscode.commands.executeCommand('lifeboat.setSecret', 'extension_test_token', VALUE), true);
    assert.equal(await vscode.commands.executeCommand('lifeboat.setSecret', 'not a name', VALUE), false, 'a name secret:NAME cannot refer to is refused');

    const outcome = (await vscode.commands.executeCommand('lifeboat.runAction', {
      action: 'shell',
      title: 'Secret check',
      params: { script: 'printf "%s" "$TOKEN"; test "$TOKEN" = "$EXPECTED"', env: { TOKEN: 'secret:extension_test_token', EXPECTED: VALUE } },
    })) as { status: string; result?: { stdout: string }; error?: string };
    assert.equal(outcome.status, 'succeeded', outcome.error);
    assert.equal(outcome.result?.stdout, '••••••', 'the action saw the value; the result shows the mask');

    const runs = await vscode.workspace.fs.readDirectory(fixtureUri('.lifeboat/runs'));
    const records = (await Promise.all(runs.map(async ([name]) => new TextDecoder().decode(await vscode.workspace.fs.readFile(fixtureUri(`.lifeboat/runs/${name}`)))))).join('');
    assert.match(records, /Secret check/);
    assert.ok(!records.includes(VALUE), 'no run record holds the secret');
  });
});
