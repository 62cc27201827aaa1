/**
 * A small DICOM Part-10 encoder (Explicit VR Little Endian, defined lengths): what dicom-parser, the reader, does
 * not do. Attributes are given with their VR, so no data dictionary is needed; enough for the objects mriseg
 * writes (a segmentation), not a general-purpose DICOM toolkit.
 */

/** A value: strings (joined with "\"), numbers for binary VRs, raw bytes, or the items of a sequence. */
export type DicomValue = string | number | readonly (string | number)[] | Uint8Array | readonly DicomItem[];

/** An attribute: tag as 0xGGGGEEEE, its VR and value. */
export interface DicomAttr {
  tag: number;
  vr: string;
  value: DicomValue;
}

export type DicomItem = DicomAttr[];

const LONG_LENGTH = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const BINARY: Record<string, { size: number; put: (dv: DataView, at: number, v: number) => void }> = {
  US: { size: 2, put: (dv, at, v) => dv.setUint16(at, v, true) },
  SS: { size: 2, put: (dv, at, v) => dv.setInt16(at, v, true) },
  UL: { size: 4, put: (dv, at, v) => dv.setUint32(at, v, true) },
  SL: { size: 4, put: (dv, at, v) => dv.setInt32(at, v, true) },
  FL: { size: 4, put: (dv, at, v) => dv.setFloat32(at, v, true) },
  FD: { size: 8, put: (dv, at, v) => dv.setFloat64(at, v, true) },
};
// An AT value is a tag: group then element, each a little-endian uint16.
const AT = {
  size: 4,
  put: (dv: DataView, at: number, v: number) => {
    dv.setUint16(at, v >>> 16, true);
    dv.setUint16(at + 2, v & 0xffff, true);
  },
};

const ascii = (s: string) => {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0x7f;
  return out;
};

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function valueBytes(a: DicomAttr): Uint8Array {
  const { vr, value } = a;
  if (vr === 'SQ') {
    const items = (value as readonly DicomItem[]).map((item) => {
      const body = encodeAttributes(item);
      const head = new Uint8Array(8);
      const dv = new DataView(head.buffer);
      dv.setUint16(0, 0xfffe, true);
      dv.setUint16(2, 0xe000, true);
      dv.setUint32(4, body.length, true);
      return concat([head, body]);
    });
    return concat(items);
  }
  if (value instanceof Uint8Array) {
    return value.length % 2 ? concat([value, new Uint8Array(1)]) : value;
  }
  const list = (Array.isArray(value) ? value : [value]) as (string | number)[];
  const bin = vr === 'AT' ? AT : BINARY[vr];
  if (bin) {
    const out = new Uint8Array(list.length * bin.size);
    const dv = new DataView(out.buffer);
    list.forEach((v, i) => void bin.put(dv, i * bin.size, Number(v)));
    return out;
  }
  let text = list.map(String).join('\\');
  if (text.length % 2) text += vr === 'UI' ? '\0' : ' ';
  return ascii(text);
}

/** The attributes encoded in tag order. */
export function encodeAttributes(attrs: readonly DicomAttr[]): Uint8Array {
  const sorted = [...attrs].sort((a, b) => a.tag - b.tag);
  const parts: Uint8Array[] = [];
  for (const a of sorted) {
    const v = valueBytes(a);
    const long = LONG_LENGTH.has(a.vr);
    const head = new Uint8Array(long ? 12 : 8);
    const dv = new DataView(head.buffer);
    dv.setUint16(0, a.tag >>> 16, true);
    dv.setUint16(2, a.tag & 0xffff, true);
    head[4] = a.vr.charCodeAt(0);
    head[5] = a.vr.charCodeAt(1);
    if (long) dv.setUint32(8, v.length, true);
    else {
      if (v.length > 0xffff)
        throw new RangeError(`DICOM ${a.vr} value of ${v.length} bytes for tag ${a.tag.toString(16)}`);
      dv.setUint16(6, v.length, true);
    }
    parts.push(head, v);
  }
  return concat(parts);
}

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** mriseg's implementation UID (under the UUID-derived 2.25 root). */
export const IMPLEMENTATION_CLASS_UID = '2.25.153867712493958122346197870131906404097';

/** A Part-10 file: preamble, "DICM", file meta information, then the data set. */
export function encodePart10(
  sopClassUid: string,
  sopInstanceUid: string,
  dataset: readonly DicomAttr[],
): Uint8Array {
  const metaBody = encodeAttributes([
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: sopClassUid },
    { tag: 0x00020003, vr: 'UI', value: sopInstanceUid },
    { tag: 0x00020010, vr: 'UI', value: EXPLICIT_VR_LITTLE_ENDIAN },
    { tag: 0x00020012, vr: 'UI', value: IMPLEMENTATION_CLASS_UID },
    { tag: 0x00020013, vr: 'SH', value: 'MRISEG' },
  ]);
  const groupLength = encodeAttributes([{ tag: 0x00020000, vr: 'UL', value: metaBody.length }]);
  const preamble = new Uint8Array(132);
  preamble.set(ascii('DICM'), 128);
  return concat([preamble, groupLength, metaBody, encodeAttributes(dataset)]);
}

/** A new UID under 2.25 (a random 128-bit number, as ISO/IEC 9834-8 allows). */
export function newUid(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return `2.25.${n.toString()}`;
}
