module.exports = {
  displayName: 'datapath',
  preset: '../../jest.preset.js',
  rootDir: '.',
};
