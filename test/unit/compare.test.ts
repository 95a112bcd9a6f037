import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareCodeUnits } from '../../src/core/compare';

describe('compareCodeUnits', () => {
  it('orders as the default sort does, whatever the locale: capitals before small letters, ASCII before accented', () => {
    assert.deepEqual(['asha', 'Åsa', 'G', 'Adil', 'adil'].sort(compareCodeUnits), ['Adil', 'G', 'adil', 'asha', 'Åsa']);
    fc.assert(fc.property(fc.array(fc.string()), (names) => assert.deepEqual([...names].sort(compareCodeUnits), [...names].sort())));
  });

  it('is zero only for equal strings', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => assert.equal(compareCodeUnits(a, b) === 0, a === b)));
  });
});
