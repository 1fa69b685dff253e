// Plan page: drag a unit's stops into a new order; the order is written into the
// adjust form's "orders" field as "unit:hotspot,hotspot,..." (one line per unit).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("adjust-form");
  if (!form) return;
  const field = form.querySelector("textarea[name=orders]");
  const writeOrder = (list) => {
    const unit = list.dataset.unit;
    const ids = [...list.children].map((li) => li.dataset.hotspot);
    const lines = field.value.split("\n").filter((l) => l.trim() && !l.startsWith(unit + ":"));
    lines.push(`${unit}:${ids.join(",")}`);
    field.value = lines.join("\n");
  };
  for (const list of form.querySelectorAll("ol.stop-order")) {
    let dragged = null;
    list.addEventListener("dragstart", (e) => {
      dragged = e.target.closest("li");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", dragged.dataset.hotspot);
    });
    list.addEventListener("dragover", (e) => e.preventDefault());
    list.addEventListener("drop", (e) => {
      e.preventDefault();
      const target = e.target.closest("li");
      if (!dragged || !target || target === dragged) return;
      const after = target.compareDocumentPosition(dragged) & Node.DOCUMENT_POSITION_PRECEDING;
      target.parentNode.insertBefore(dragged, after ? target.nextSibling : target);
      writeOrder(list);
    });
  }
});
