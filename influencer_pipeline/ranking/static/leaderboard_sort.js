(function(){var table=document.getElementById('board');if(!table)return;
document.querySelectorAll('#board th[data-key]').forEach(function(th){
th.classList.add('sortable');th.title='Click to sort';
th.addEventListener('click',function(){var key=th.dataset.key,
dir=th.dataset.dir==='asc'?'desc':'asc';th.dataset.dir=dir;
var rows=Array.prototype.slice.call(table.tBodies);rows.sort(function(a,b){
var x=a.dataset[key],y=b.dataset[key],nx=parseFloat(x),ny=parseFloat(y),c;
if(isNaN(nx)&&isNaN(ny)){c=String(x).localeCompare(String(y));}
else{c=(isNaN(nx)?-Infinity:nx)-(isNaN(ny)?-Infinity:ny);}
return dir==='asc'?c:-c;});rows.forEach(function(r){table.appendChild(r);});});});})();
