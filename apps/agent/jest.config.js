module.exports = {
  displayName: 'app-agent',
  preset: '../../jest.preset.js',
  rootDir: '.',
};
