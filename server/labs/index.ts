// The lab workbook's server side: lab files, checks, progress, HTTP API.
export { labsPlugin, progressBody, emptyBody, type LabsPluginOptions, type LabOperations, type ResetState } from './plugin.js';
export { loadLabs, LAB_ID } from './catalog.js';
export { parseLab, LabFileError, FrontMatterSchema, PLACEHOLDERS, type LabFile, type LabStep, type LabAction, type FrontMatter } from './format.js';
export { CHECKS, CHECK_IDS, createCheckContext, machine, type CheckDef, type CheckContext, type CheckResult } from './checks/index.js';
export { startState, topologyMismatch, upBeforeBegun } from './start-state.js';
export { ProgressStore, type LabProgress } from './progress.js';
export { applySettings, lineDiff, type DiffLine } from './ini-edit.js';
