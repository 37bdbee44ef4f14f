// Every check of labs 1, 2, 3, 6 and 7 against a real lab with qdrouterd,
// where one is installed (labs-broker.suite.ts; skipped with a message elsewhere).
import { brokerLabChecks } from './labs-broker.suite.js';
import { routerChoice } from '../helpers/router-choice.js';

brokerLabChecks(routerChoice('qdrouterd'));
