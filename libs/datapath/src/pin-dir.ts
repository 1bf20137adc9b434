/** Where the datapath pins its programs and maps unless told otherwise. */
export const DEFAULT_PIN_DIR = '/sys/fs/bpf/tendril';
