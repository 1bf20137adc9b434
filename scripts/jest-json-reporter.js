// Writes one project's aggregated Jest results as JSON into TENDRIL_TEST_RESULTS.
const fs = require('node:fs');
const path = require('node:path');

class JsonResultsReporter {
  constructor(globalConfig) {
    this.name = (globalConfig.rootDir || 'project').replace(/[^a-zA-Z0-9]+/g, '_');
  }
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests, numFailedTestSuites } = results;
    const out = path.join(process.env.TENDRIL_TEST_RESULTS, `${this.name}.json`);
    fs.writeFileSync(out, JSON.stringify({ numPassedTests, numFailedTests, numPendingTests, numTodoTests, numFailedTestSuites }));
  }
}
module.exports = JsonResultsReporter;
