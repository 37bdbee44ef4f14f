// Every check of labs 1, 2, 3, 6 and 7 against a real lab with the embedded
// router (labs-broker.suite.ts; labs-broker-qdrouterd.test.ts runs the same on qdrouterd).
import { brokerLabChecks } from './labs-broker.suite.js';
import { routerChoice } from '../helpers/router-choice.js';

brokerLabChecks(routerChoice('embedded'));
