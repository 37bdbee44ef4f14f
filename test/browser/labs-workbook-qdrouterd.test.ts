// Labs 1 to 3 in the workbook, in Chromium, with qdrouterd where one is
// installed (labs-workbook.suite.ts; skipped with a message elsewhere).
import { workbookLabs } from './labs-workbook.suite.js';
import { routerChoice } from '../helpers/router-choice.js';

workbookLabs(routerChoice('qdrouterd'));
