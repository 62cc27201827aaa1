// utif 3.1.0 ships no types; only the part the tests call (to cross-check the decoder) is declared.
declare module 'utif' {
  interface Ifd {
    [tag: `t${number}`]: number[] | undefined;
    width?: number;
    height?: number;
    data?: Uint8Array;
  }
  const UTIF: {
    decode(buf: Uint8Array): Ifd[];
    decodeImage(buf: Uint8Array, ifd: Ifd, ifds?: Ifd[]): void;
  };
  export default UTIF;
}
