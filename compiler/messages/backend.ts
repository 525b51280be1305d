/** Back-end, device, data and checkpoint messages (NN4xxx, NN5xxx). */
export const backendMessages = {
  NN4001: "{op}: {detail}",
} as const;
