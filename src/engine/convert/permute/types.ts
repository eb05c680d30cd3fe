// What `convert --permute` reports: per layer, the magnitude N:M pruning keeps in the stored channel order and in
// the permuted one (or why the layer's channels were not permuted), and the permuted model checked against the input.
import type { RuntimeComparison } from '../runtime';

export interface PermutedLayer {
  name: string;
  op: string;
  weight: string;
  /** permuted: a better order was found and applied; identity: none beat the stored order; refused: see `reason`. */
  status: 'permuted' | 'identity' | 'refused';
  reason: string | null;
  /** The layer producing its input channels ("Conv 'conv1'"), and the ops walked through between them. */
  producer: string | null;
  through: string[];
  /** Every tensor permuted with it, and along which axis ("w2 axis 1"). */
  tensors: string[];
  channels: number | null;
  /** Fractions of sum |w| kept by N:M pruning: stored order, permuted order, and the unstructured bound at that density. */
  retainedPlain: number | null;
  retainedPermuted: number | null;
  retainedBound: number | null;
  /** Moves the search applied, and whether its work budget ran out before it converged. */
  moves: number;
  budgetSpent: boolean;
}

export interface PermutationReport {
  pattern: string;
  layers: PermutedLayer[];
  summary: {
    permuted: number;
    identity: number;
    refused: number;
    /** Over the searched layers (permuted and identity): sum |w| kept / sum |w|, without and with the permutation. */
    retainedPlain: number | null;
    retainedPermuted: number | null;
  };
  /** The permuted (not yet pruned) model against the input in ONNX Runtime, on the same generated inputs. */
  runtime: RuntimeComparison | null;
  /** Work budget of the search per layer (row x split evaluations). */
  budget: number;
  seconds: number;
}
