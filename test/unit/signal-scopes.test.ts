import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { followSignal, SignalScopes } from '../../src/core/errors';

describe('SignalScopes: signals for many pieces of work under one long-lived signal', () => {
  it('aborts every open one with the parent, with the parent\'s reason, and opens aborted ones once it is', () => {
    const parent = new AbortController();
    const scopes = new SignalScopes(parent.signal);
    const open = [scopes.open(), scopes.open()];
    parent.abort(new Error('stopped by the user'));
    assert.deepEqual(open.map((scope) => [scope.signal.aborted, (scope.signal.reason as Error).message]), [[true, 'stopped by the user'], [true, 'stopped by the user']]);
    assert.equal(scopes.open().signal.aborted, true);
  });

  it('adds one listener to the parent however many are open, lets go of released ones whatever listens to them, and none once disposed', () => {
    const parent = new AbortController();
    const scopes = new SignalScopes(parent.signal);
    const works = Array.from({ length: 1000 }, () => scopes.open());
    // What the AWS SDK does with a request's signal: a listener it never removes.
    for (const work of works) work.signal.addEventListener('abort', () => undefined);
    assert.equal(getEventListeners(parent.signal, 'abort').length, 1);
    for (const work of works.slice(0, 999)) work.release();
    parent.abort();
    assert.deepEqual([works.filter((work) => work.signal.aborted).length, works.at(-1)?.signal.aborted], [1, true]);

    const other = new AbortController();
    new SignalScopes(other.signal).dispose();
    assert.equal(getEventListeners(other.signal, 'abort').length, 0);
  });

  it('followSignal: a signal of one piece of work\'s own under a shared parent, one listener on the parent for all of them, none kept once released', () => {
    const parent = new AbortController();
    const works = Array.from({ length: 50 }, () => followSignal(parent.signal));
    assert.equal(getEventListeners(parent.signal, 'abort').length, 1);
    for (const work of works.slice(0, 40)) work.release();
    const idle = new AbortController();
    for (const work of Array.from({ length: 3 }, () => followSignal(idle.signal))) work.release();
    assert.equal(getEventListeners(idle.signal, 'abort').length, 0, 'none left once every one is released');
    parent.abort(new Error('cancelled'));
    assert.deepEqual([works.filter((work) => work.signal.aborted).length, (works.at(-1)?.signal.reason as Error).message], [10, 'cancelled']);
    assert.equal(followSignal(parent.signal).signal.aborted, true, 'opened after the parent aborted: aborted at once');
  });
});
