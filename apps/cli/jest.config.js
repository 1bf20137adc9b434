module.exports = {
  displayName: 'app-cli',
  preset: '../../jest.preset.js',
  rootDir: '.',
};
