/**
 * `npm run demo`: placeholder until the export pipeline lands (issue: exports and runs).
 */
console.log('segment-export demo: the export pipeline is not built yet. `npm start` runs the app; `npm test` runs the tests.');
