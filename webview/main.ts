// The inspection panel's webview bundle. The heatmap and tables arrive with issue 5.
export {};
