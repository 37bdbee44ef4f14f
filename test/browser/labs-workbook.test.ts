// Labs 1 to 3 in the workbook, in Chromium, with the embedded router
// (labs-workbook.suite.ts; labs-workbook-qdrouterd.test.ts runs the same on qdrouterd).
import { workbookLabs } from './labs-workbook.suite.js';
import { routerChoice } from '../helpers/router-choice.js';

workbookLabs(routerChoice('embedded'));
