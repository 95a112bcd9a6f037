/**
 * Where archive.create's tar stream goes (a compressor): a producer writes into `room()` (reading a
 * file straight into it) and then `commit`s what it wrote, so file contents are never copied on
 * their way in; small pieces such as headers and padding are copied in by `write` and `writeZeros`.
 */
export abstract class TarSink {
  /** Uncompressed bytes committed so far. */
  abstract get bytesIn(): number;

  /** The unfilled rest of the current block, never empty; write into it, then `commit` the bytes written. */
  abstract room(): Buffer;

  /** Takes `bytes` just written at the start of `room()`. */
  abstract commit(bytes: number): Promise<void>;

  /** Copies `data` in. */
  async write(data: Uint8Array): Promise<void> {
    for (let offset = 0; offset < data.length; ) {
      const room = this.room();
      const length = Math.min(room.length, data.length - offset);
      room.set(data.subarray(offset, offset + length));
      offset += length;
      await this.commit(length);
    }
  }

  /** Appends `count` zero bytes (tar padding). */
  async writeZeros(count: number): Promise<void> {
    for (let left = count; left > 0; ) {
      const room = this.room();
      const length = Math.min(room.length, left);
      room.fill(0, 0, length);
      left -= length;
      await this.commit(length);
    }
  }
}
