import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { createSummary, describeSummary, SUMMARY_NAME, summaryFromHead, tarEnd, tarFileBlocks } from '../../src/actions/frigate/facesArchive';

const when = new Date('2026-02-08T03:00:00Z');
const archiveOf = (...entries: [string, Buffer][]) => gzipSync(Buffer.concat([...entries.flatMap(([path, data]) => tarFileBlocks(path, data, when)), tarEnd()]));

describe('face archive summaries', () => {
  const summary = createSummary('home', new Map([['G', 380], ['Asha', 153], ['Adil', 36], ['Waffles', 11]]), 2, when);
  const image = Buffer.alloc(64 * 1024, 7);

  it('reads the summary from the first bytes of an archive, whatever follows', () => {
    const archive = archiveOf([SUMMARY_NAME, Buffer.from(JSON.stringify(summary))], ['faces/Asha/Asha-1.webp', image], ['manifest.json', Buffer.from('{}')]);
    const read = summaryFromHead(archive.subarray(0, 1024), 'a.tar.gz');
    assert.deepEqual(read, summary);
    assert.equal(describeSummary(summary), 'Adil 36 · Asha 153 · G 380 · Waffles 11 · train 2');
  });

  it('finds no summary in an archive that starts with anything else (the old script, older Lifeboat)', () => {
    assert.equal(summaryFromHead(archiveOf(['faces-backup/Asha/Asha-1.webp', image]).subarray(0, 1024), 'old.tar.gz'), undefined);
  });

  it('names the problem when the head is cut inside the summary, is not gzip, or holds no face summary', () => {
    const long = createSummary('home', new Map(Array.from({ length: 2000 }, (_, index) => [`person-${index}-${(index * 7919).toString(36)}`, index])), 0, when);
    const archive = archiveOf([SUMMARY_NAME, Buffer.from(JSON.stringify(long))]);
    assert.throws(() => summaryFromHead(archive.subarray(0, 2048), 'big.tar.gz'), /summary\.json of big\.tar\.gz is longer than the 2048 bytes read/);
    assert.throws(() => summaryFromHead(Buffer.from('not an archive'), 'text.tar.gz'), /text\.tar\.gz does not start like a tar\.gz/);
    assert.throws(() => summaryFromHead(archiveOf([SUMMARY_NAME, Buffer.from('{"people": 3}')]), 'odd.tar.gz'), /summary\.json in odd\.tar\.gz is not a face summary/);
  });
});
