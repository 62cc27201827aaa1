/**
 * The architecture and widths a bare state dict (a PyTorch `.pt` file, a plain safetensors file) belongs to, read
 * from its key names and weight shapes: a file without mriseg's `config` metadata still loads. The model built
 * from it then checks every key and shape (`loadStateDict`).
 */
interface Shaped {
  shape: readonly number[];
}

/** A key only that architecture has, and its first and last convolutions' weight keys. */
const SIGNATURES = [
  { architecture: 'unet++', key: 'x0_0.conv1.weight', out: 'head4.weight' },
  { architecture: 'attention-unet', key: 'attention1.W_g.0.weight', first: 'encoder1.enc1conv1.weight' },
  { architecture: 'unet', key: 'encoder1.enc1conv1.weight', out: 'conv.weight' },
  { architecture: 'resunet', key: 'encoder1.conv1.weight', out: 'conv.weight' },
] as const;

/** `{architecture, inChannels, outChannels, features}` as `config()` gives it; an unknown layout is an error. */
export function configFromStateDict(state: ReadonlyMap<string, Shaped>): Record<string, unknown> {
  const sig = SIGNATURES.find((s) => state.has(s.key));
  if (!sig) {
    const some = [...state.keys()].slice(0, 3).join(', ');
    throw new Error(
      `the state dict matches none of mriseg's architectures (no ${SIGNATURES.map((s) => s.key).join(', ')}; it has ${some}${state.size > 3 ? ', …' : ''})`,
    );
  }
  const first = state.get('first' in sig ? sig.first : sig.key)!.shape;
  const out = state.get('out' in sig ? sig.out : 'conv.weight')?.shape;
  if (first.length !== 4 || !out || out.length !== 4)
    throw new Error(
      `the state dict looks like a ${sig.architecture} but its convolution weights are not 4-D`,
    );
  return { architecture: sig.architecture, inChannels: first[1], outChannels: out[0], features: first[0] };
}
