// Where a tile of a layer's compliance grid lies in the weight: pure arithmetic, tested against the scan kernel's
// own grids (test/webview.test.ts). The kernel puts the group of output feature r, K-chunk c and position p in
// tile (floor(r * rows / R), floor((c * P + p) * cols / (chunksPerLane * P))): kernel.ts, SlabScanner.scanLane.
import type { LayerReport } from '../src/engine/sparsity/inspect';
import { ShapeInfo } from '../src/engine/sparsity/kernel';
import type { Pattern } from '../src/engine/sparsity/pattern';
import type { GroupRegion } from '../src/protocol';

/** A layer's weight as the kernel groups it, with the grid its report carries. */
export interface LayerGeometry {
  shape: ShapeInfo;
  /** Groups along K at one position: floor(K / M). */
  groupsPerLane: number;
  rows: number;
  cols: number;
}

/** The geometry of a scanned layer, or null when it has no grid (ineligible, failed, not scanned). */
export function layerGeometry(layer: Pick<LayerReport, 'shape' | 'axis' | 'outAxis' | 'grid'>, pattern: Pattern): LayerGeometry | null {
  if (!layer.shape || layer.axis === null || layer.outAxis === null || !layer.grid) return null;
  const shape = new ShapeInfo({ dims: layer.shape, kAxis: layer.axis, rAxis: layer.outAxis }, pattern);
  return { shape, groupsPerLane: Math.floor(shape.K / pattern.m), rows: layer.grid.rows, cols: layer.grid.cols };
}

/** One tile: its output features, its grid columns (column = chunk * P + position) and the groups in it. */
export interface TileExtent {
  tileRow: number;
  tileCol: number;
  /** Output features [row0, row1). */
  row0: number;
  row1: number;
  /** Grid columns [column0, column1), column = chunk * P + position. */
  column0: number;
  column1: number;
  /** Groups in the whole tile, every position: equals the grid's `total` for the tile. */
  groups: number;
}

export function tileExtent(geo: LayerGeometry, tileRow: number, tileCol: number): TileExtent {
  const { R, P, chunksPerLane } = geo.shape;
  const columns = chunksPerLane * P;
  // Rows: r is in tile t when t * R <= r * rows < (t + 1) * R.
  const row0 = Math.ceil((tileRow * R) / geo.rows);
  const row1 = Math.min(R, Math.ceil(((tileRow + 1) * R) / geo.rows));
  const column0 = firstColumnOfTile(tileCol, columns, geo.cols);
  const column1 = firstColumnOfTile(tileCol + 1, columns, geo.cols);
  let groupsPerRow = 0;
  for (let column = column0; column < column1; column++) groupsPerRow += groupsInChunk(geo, Math.floor(column / P));
  return { tileRow, tileCol, row0, row1, column0, column1, groups: (row1 - row0) * groupsPerRow };
}

/** The positions (coordinates other than K and the output feature) a tile covers, in column order. */
export function tilePositions(geo: LayerGeometry, tile: TileExtent): number[] {
  const { P } = geo.shape;
  const seen = new Set<number>();
  for (let column = tile.column0; column < tile.column1 && seen.size < P; column++) seen.add(column % P);
  return [...seen];
}

/** K-groups [group0, group1) of `position` inside the tile: the chunks c with column0 <= c * P + position < column1. */
export function tileGroups(geo: LayerGeometry, tile: TileExtent, position: number): { group0: number; group1: number } {
  const { P, chunk } = geo.shape;
  const m = geo.shape.pattern.m;
  const chunk0 = Math.ceil((tile.column0 - position) / P);
  const chunk1 = Math.ceil((tile.column1 - position) / P);
  if (chunk1 <= chunk0) return { group0: 0, group1: 0 };
  return { group0: (chunk0 * chunk) / m, group1: Math.min(geo.groupsPerLane, (chunk1 * chunk) / m) };
}

/** Which part of a tile the zoom shows: a position of the tile and the offsets of a window into its rows and groups. */
export interface ZoomWindow {
  position: number;
  rowOffset: number;
  groupOffset: number;
}

/** The most groups a zoom region may hold (the host refuses more). */
import { MAX_REGION_GROUPS } from '../src/protocol';

export { MAX_REGION_GROUPS };

/** The most rows and groups the zoom draws at once; MAX_REGION_GROUPS bounds their product too. */
export const ZOOM_ROWS = 64;
export const ZOOM_GROUPS = 64;

/**
 * The region of real groups the zoom asks for: the tile's rows and K-groups at one position, cut to a window of
 * at most ZOOM_ROWS x ZOOM_GROUPS and MAX_REGION_GROUPS groups. Offsets past the tile are clamped.
 */
export function zoomRegion(layer: string, geo: LayerGeometry, tile: TileExtent, window: ZoomWindow, maxGroups = MAX_REGION_GROUPS): GroupRegion | null {
  const { group0, group1 } = tileGroups(geo, tile, window.position);
  const rowsInTile = tile.row1 - tile.row0;
  const groupsInTile = group1 - group0;
  if (rowsInTile <= 0 || groupsInTile <= 0) return null;
  const across = Math.min(groupsInTile, ZOOM_GROUPS, maxGroups);
  const down = Math.max(1, Math.min(rowsInTile, ZOOM_ROWS, Math.floor(maxGroups / across)));
  const rowOffset = clamp(window.rowOffset, 0, rowsInTile - down);
  const groupOffset = clamp(window.groupOffset, 0, groupsInTile - across);
  return {
    layer,
    row0: tile.row0 + rowOffset,
    row1: tile.row0 + rowOffset + down,
    group0: group0 + groupOffset,
    group1: group0 + groupOffset + across,
    position: window.position,
  };
}

/** Groups of chunk c: chunks are lcm(M, 16) K-rows, the last one cut by K. */
function groupsInChunk(geo: LayerGeometry, c: number): number {
  const perChunk = geo.shape.chunk / geo.shape.pattern.m;
  return Math.max(0, Math.min(geo.groupsPerLane, (c + 1) * perChunk) - c * perChunk);
}

/** The first column the kernel puts in tile `tile` or later, with the kernel's own floating-point expression. */
function firstColumnOfTile(tile: number, columns: number, cols: number): number {
  const colScale = cols / columns;
  const tileOf = (column: number) => Math.floor(column * colScale);
  let column = Math.min(columns, Math.ceil((tile * columns) / cols));
  while (column > 0 && tileOf(column - 1) >= tile) column--;
  while (column < columns && tileOf(column) < tile) column++;
  return column;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, x));
}
