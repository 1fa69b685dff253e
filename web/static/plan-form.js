// Plan form: choosing a shift ticks the units that work it (a unit with no shift works
// every shift), and records which shift the ticks are for.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("plan-form");
  if (!form) return;
  const select = form.querySelector("select[name=shift]");
  const tickedFor = form.querySelector("input[name=ticked_for]");
  select.addEventListener("change", () => {
    const option = select.selectedOptions[0];
    const name = option.value;
    const window = option.dataset.window || "";
    for (const box of form.querySelectorAll("input[name=units]")) {
      const works = box.dataset.shift || "";
      box.checked = works === "" || works === name || (window !== "" && works === window);
    }
    tickedFor.value = name;
  });
});
