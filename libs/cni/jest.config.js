module.exports = {
  displayName: 'cni',
  preset: '../../jest.preset.js',
  rootDir: '.',
};
